"""acie.darkmatter"""
