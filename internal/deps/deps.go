package deps

import (
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	_ "github.com/jdkato/prose/v2"
	_ "github.com/parquet-go/parquet-go"
	_ "go4.org/unsafe/assume-no-moving-gc"
	_ "gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/memblob"
	_ "gonum.org/v1/gonum/mat"
	_ "gopkg.in/yaml.v3"
	_ "gorgonia.org/gorgonia"
)
