"""poselift.evaluate"""
