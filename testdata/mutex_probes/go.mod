module mutex_probes

go 1.15
