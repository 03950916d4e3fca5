"""acie.store"""
