"""acie.galaxy"""
