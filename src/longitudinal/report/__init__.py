"""The report layer: publishing, protection, the sections, the annual report and the batch."""
