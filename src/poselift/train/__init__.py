"""poselift.train"""
