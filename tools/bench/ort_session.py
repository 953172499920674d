"""The ONNX Runtime session used for every ORT figure in tools/bench: one thread (or `threads`
intra-op threads for bench-peers --threads), no spinning.

Kept apart from tflite_to_onnx.py so the timed ORT process imports onnxruntime and nothing else.
"""
from __future__ import annotations

ORT_SETTINGS = ("intra_op_num_threads=<threads>, inter_op_num_threads=1, ORT_SEQUENTIAL, "
                "session.intra_op.allow_spinning=0, CPUExecutionProvider")

LEVELS = ("disable", "basic", "extended", "all")


def ort_session(onnx_path: str, level: str = "extended", threads: int = 1):
    """CPU session with `threads` intra-op threads (1: single-thread) at graph optimization
    level LEVEL (one of LEVELS)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.graph_optimization_level = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[level]
    return ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
