"""acie.causal"""
