"""tracepond/otlp"""
