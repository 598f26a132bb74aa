"""poselift.cli"""
