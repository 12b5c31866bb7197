"""Course scaffolding: what the notebooks use besides the network, the data and the training code.

* ``notebook``    parameters, smoke mode, results files, environment report
* ``exercises``   auto-checked exercises with diagnosed known mistakes
* ``explore``     the interactive explorers and the tiny restorer of the ablations
* ``toy``         the matched linear / nonlinear-value toy models (notebooks 02-03)
* ``span``        measuring the span limitation (Eq. 6-10)
* ``awareness``   degradation awareness (Sec. 4, Fig. 7-8): embeddings, NMI/ARI, spectra
* ``foundation``  an optional pretrained feature extractor from the local torch hub cache (notebook 08)
* ``ablation``    the Fig. 5 variants over seeds, statistics, overhead ratios (notebook 09)
* ``cost``        attention cost vs resolution, counted and measured (notebook 01)
* ``sizes``       the U-Net's stage shapes, sizes beside Table A, MAC growth (notebook 06)
* ``figures``     drawn from code with real shapes: Fig. 2-style attention, MDTA, Algorithm 1, the U-Net
* ``all_in_one``  notebook 07's set-up (parameters -> TrainConfig), figures and results file
* ``twins``       notebook 08's model pairs with and without GST (same initial weights), trained once and cached
* ``awareness_report``  notebook 08's tables, figures and generated verdicts
* ``ablation_report``   notebook 09's tables, figures and generated reading (``ablation`` also trains the
  variants and measures sizes, latency and overhead)
"""
