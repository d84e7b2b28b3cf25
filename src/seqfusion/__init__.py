"""seqfusion: zero-shot time-series forecasting by sequential fusion of pre-trained models."""
from seqfusion.errors import SeqFusionError, ZooError
from seqfusion.forecaster import SeqFusion
from seqfusion.zoo import Member, Zoo

__version__ = "0.1.0"
__all__ = ["SeqFusion", "Zoo", "Member", "SeqFusionError", "ZooError", "__version__"]
