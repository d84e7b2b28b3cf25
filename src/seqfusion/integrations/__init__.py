"""Adapters to forecasting frameworks, each an optional extra imported only by its module:

* :mod:`seqfusion.integrations.sktime`: ``SeqFusionForecaster``, an sktime forecaster
  (``pip install 'seqfusion[sktime]'``);
* :mod:`seqfusion.integrations.gluonts`: ``SeqFusionPredictor``, a GluonTS predictor of
  quantile forecasts (``pip install 'seqfusion[gluonts]'``);
* :mod:`seqfusion.integrations.darts`: ``SeqFusionModel``, a darts forecasting model
  (``pip install 'seqfusion[darts]'``).

Importing this package loads none of them.
"""
