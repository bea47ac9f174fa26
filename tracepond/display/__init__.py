"""tracepond/display"""
