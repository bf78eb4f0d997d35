package permission

import (
	"errors"
	"fmt"
)

// Level is an MLflow permission. Levels are ordered from NoPermissions
// (the zero value) to Manage, each allowing what the ones below it do.
type Level uint8

// MLflow's permissions.
const (
	NoPermissions Level = iota // NO_PERMISSIONS: nothing
	Read                       // READ: read
	Use                        // USE: read, use
	Edit                       // EDIT: read, use, update
	Manage                     // MANAGE: read, use, update, delete, manage
)

var levelNames = [...]string{"NO_PERMISSIONS", "READ", "USE", "EDIT", "MANAGE"}

// String returns MLflow's name for l, such as "EDIT".
func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return fmt.Sprintf("Level(%d)", uint8(l))
}

// ErrInvalidLevel is wrapped by ParseLevel's errors.
var ErrInvalidLevel = errors.New("invalid permission")

// ParseLevel parses MLflow's name for a permission. Names are exact, as
// MLflow's are; the error's text is MLflow's own message.
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if s == n {
			return Level(i), nil
		}
	}
	return 0, &levelError{s}
}

type levelError struct{ name string }

func (e *levelError) Error() string {
	return fmt.Sprintf("Invalid permission '%s'. Valid permissions are: ('READ', 'USE', 'EDIT', 'MANAGE', 'NO_PERMISSIONS')", e.name)
}

func (e *levelError) Is(target error) bool { return target == ErrInvalidLevel }

// MarshalText encodes l as MLflow's name.
func (l Level) MarshalText() ([]byte, error) {
	if int(l) >= len(levelNames) {
		return nil, fmt.Errorf("permission: cannot encode %v", l)
	}
	return []byte(levelNames[l]), nil
}

// UnmarshalText decodes MLflow's name.
func (l *Level) UnmarshalText(b []byte) error {
	v, err := ParseLevel(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// Capability is what an endpoint needs of the caller's level on a resource.
type Capability uint8

// The capabilities of MLflow's permission table.
const (
	CanRead Capability = iota
	CanUse
	CanUpdate
	CanDelete
	CanManage
)

var capabilityNames = [...]string{"read", "use", "update", "delete", "manage"}

// String returns the capability's name as the endpoint spec writes it.
func (c Capability) String() string {
	if int(c) < len(capabilityNames) {
		return capabilityNames[c]
	}
	return fmt.Sprintf("Capability(%d)", uint8(c))
}

// ParseCapability parses "read", "use", "update", "delete" or "manage".
func ParseCapability(s string) (Capability, error) {
	for i, n := range capabilityNames {
		if s == n {
			return Capability(i), nil
		}
	}
	return 0, fmt.Errorf("permission: unknown capability %q", s)
}

// minLevel is the lowest level that has each capability.
var minLevel = [...]Level{CanRead: Read, CanUse: Use, CanUpdate: Edit, CanDelete: Manage, CanManage: Manage}

// MinLevel is the lowest level that has c (MANAGE for an unknown one).
func (c Capability) MinLevel() Level {
	if int(c) >= len(minLevel) {
		return Manage
	}
	return minLevel[c]
}

// Allows reports whether l has capability c. An unknown capability is
// allowed to nobody.
func (l Level) Allows(c Capability) bool {
	if int(c) >= len(minLevel) || l > Manage {
		return false
	}
	return l >= minLevel[c]
}
