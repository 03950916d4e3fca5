"""acie.jobs"""
