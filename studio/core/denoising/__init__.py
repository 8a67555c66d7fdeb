"""What the denoising families (image diffusion, video diffusion) share: the noise schedule, the
samplers, the U-Net's layers and text conditioning, and the training objective. A family folder
never imports another, so these live here, beside them."""
