"""tracepond/autolog/chat_completions"""
