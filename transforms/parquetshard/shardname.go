package parquetshard

import "github.com/groundcap/groundcap/internal/shard"

func shardName(table string, i, n int) string { return shard.Name(table, i, n) }
