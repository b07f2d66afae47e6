"""Pure PyTorch networks and losses of the bundled models (no Django imports).

One module per family: ``dcgan``, ``progressive``, ``srcnn``, ``crn`` (+ ``vgg``), ``simgan``;
``losses`` holds the adversarial losses shared by the GAN families.
"""
