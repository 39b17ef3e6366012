"""Workstation conversion: Keras run -> quantized ``.tflite`` with our model contract inside.

``convert_run`` (in ``convert.pipeline``) is the library entry point behind ``edge convert``:
load the run (``source``), build calibration data (``calibration``), convert (``tflite``,
optionally fusing ``TFLite_Detection_PostProcess`` via ``postprocess``), embed the record
(``metadata_writer``), prove accuracy held (``parity``) and check the Edge TPU (``edgetpu``).
TensorFlow is imported lazily by the modules that need it.
"""
