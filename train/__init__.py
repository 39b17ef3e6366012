"""Workstation training: datasets, augmentation, targets, SSD / tiny-YOLO models, losses, fit.

Only the tf.data, model, loss and fit modules import TensorFlow.
"""
