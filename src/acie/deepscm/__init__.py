"""acie.deepscm"""
