package models

import (
	"context"
	"fmt"

	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/training/checkpoint"
	tscan "github.com/groundcap/groundcap/training/scan"
)

// LoadMatching reads a matching model's checkpoint (MatchingFile of a scan stage) from a
// location and rebuilds the model.
func LoadMatching(ctx context.Context, loc string) (*tscan.Model, error) {
	data, err := blobio.ReadAll(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	c, err := checkpoint.Unmarshal(loc, data)
	if err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	m, err := tscan.FromCheckpoint(c)
	if err != nil {
		return nil, fmt.Errorf("models: %s: %w", loc, err)
	}
	return m, nil
}
