module defer_storm

go 1.15
