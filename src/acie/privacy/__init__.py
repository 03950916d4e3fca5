"""acie.privacy"""
