"""tracepond/tracking"""
