"""acie.analysis"""
