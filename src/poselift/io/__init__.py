"""poselift.io"""
