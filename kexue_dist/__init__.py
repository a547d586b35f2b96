"""kexue_dist: Su Jianlin's kexue.fm models, trained and searched at cluster scale with Ray + DeepSpeed."""

__version__ = "0.1.0"
