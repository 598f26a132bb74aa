"""poselift.lift"""
