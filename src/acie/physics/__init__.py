"""acie.physics"""
