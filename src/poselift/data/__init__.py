"""poselift.data"""
