"""poselift.detect"""
