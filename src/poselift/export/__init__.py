"""poselift.export"""
