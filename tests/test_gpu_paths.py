"""What differs on a GPU machine, checked without one: dtype from the bf16 flag, the CPU multi-process fallback."""


def test_bf16_flag_sets_the_weights_dtype_unless_one_is_given():
    from train.run import model_dtype

    assert model_dtype(None, False) == "float32"
    assert model_dtype(None, True) == "bfloat16"
    assert model_dtype("auto", True) == "bfloat16"
    assert model_dtype("float16", True) == "float16"


def test_several_processes_without_one_gpu_each_fall_back_to_the_cpu():
    from train.run import cpu_fallback

    assert cpu_fallback(2, 0)       # a CPU-only machine
    assert cpu_fallback(2, 1)       # the CPU config on a one-GPU machine: rank 1 has no GPU of its own
    assert not cpu_fallback(2, 2)   # one GPU per process
    assert not cpu_fallback(1, 0)   # one process: no distributed backend to choose
