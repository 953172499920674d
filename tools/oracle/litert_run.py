"""Runs a TFLite model on LiteRT's built-in kernels (no XNNPACK delegate), one thread."""
import numpy as np


def run_model(model, inputs):
    """model: bytes or path. inputs: list of numpy arrays in SubGraph input order.
    Returns the outputs as numpy arrays in SubGraph output order."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kwargs = dict(num_threads=1,
                  experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    if isinstance(model, (bytes, bytearray)):
        interp = Interpreter(model_content=bytes(model), **kwargs)
    else:
        interp = Interpreter(model_path=str(model), **kwargs)
    interp.allocate_tensors()
    for detail, value in zip(interp.get_input_details(), inputs):
        interp.set_tensor(detail["index"], np.asarray(value, dtype=detail["dtype"]).reshape(
            detail["shape"]))
    interp.invoke()
    return [np.array(interp.get_tensor(d["index"])) for d in interp.get_output_details()]


def io_details(model):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    kwargs = dict(num_threads=1,
                  experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp = (Interpreter(model_content=bytes(model), **kwargs)
              if isinstance(model, (bytes, bytearray)) else Interpreter(model_path=str(model),
                                                                       **kwargs))
    return interp.get_input_details(), interp.get_output_details()
