"""The provincial WAN and video-conference network: inventory, probes, figures, alerts."""
