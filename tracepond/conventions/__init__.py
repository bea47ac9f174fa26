"""tracepond/conventions"""
