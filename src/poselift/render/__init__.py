"""poselift.render"""
