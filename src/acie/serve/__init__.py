"""acie.serve"""
