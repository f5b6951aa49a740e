module defernil

go 1.19
