"""DeepGuard's platform-free core: decode an upload, batch it through the model, judge it.

Import each name from the module that defines it (`core.detector.Detector`).
"""
