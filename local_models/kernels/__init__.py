"""GPU kernels for the hot ops of video DiTs, each with a plain torch reference that runs everywhere."""

from .rmsnorm_rope import kernel_available, rmsnorm_rope, rmsnorm_rope_reference

__all__ = ["kernel_available", "rmsnorm_rope", "rmsnorm_rope_reference"]
