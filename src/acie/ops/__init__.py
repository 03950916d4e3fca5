"""acie.ops"""
