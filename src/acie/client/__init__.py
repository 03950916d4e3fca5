"""acie.client"""
