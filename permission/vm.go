package permission

import (
	"regexp/syntax"
	"unicode/utf8"
)

// vmMatch runs prog anchored at the start of s and reports whether it
// reaches a match, with Python's meaning for \b and \B (Unicode word
// characters) and for pyDollar (the end, or before a final newline).
//
// It is a Pike VM: linear in len(s) times the program size. Go's regexp
// serves every case it gets right; this serves the rest (a name with a
// newline, or with non-ASCII characters next to a \b).
func vmMatch(prog *syntax.Prog, s string, ascii bool) bool {
	n := len(prog.Inst)
	clist, nlist := newThreadSet(n), newThreadSet(n)
	clist.add(prog, uint32(prog.Start), s, 0, ascii)
	for pos := 0; ; {
		if clist.matched {
			return true
		}
		if len(clist.dense) == 0 || pos >= len(s) {
			return false
		}
		r, w := utf8.DecodeRuneInString(s[pos:])
		nlist.clear()
		for _, pc := range clist.dense {
			inst := &prog.Inst[pc]
			switch inst.Op {
			case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
				if inst.MatchRune(r) {
					nlist.add(prog, inst.Out, s, pos+w, ascii)
				}
			}
		}
		pos += w
		clist, nlist = nlist, clist
	}
}

type threadSet struct {
	sparse  []uint32
	dense   []uint32
	matched bool
}

func newThreadSet(n int) *threadSet {
	return &threadSet{sparse: make([]uint32, n), dense: make([]uint32, 0, n)}
}

func (t *threadSet) clear() { t.dense, t.matched = t.dense[:0], false }

func (t *threadSet) has(pc uint32) bool {
	i := t.sparse[pc]
	return int(i) < len(t.dense) && t.dense[i] == pc
}

// add follows pc's empty transitions at position pos, keeping the
// instructions that consume a rune.
func (t *threadSet) add(prog *syntax.Prog, pc uint32, s string, pos int, ascii bool) {
	if t.has(pc) {
		return
	}
	t.sparse[pc] = uint32(len(t.dense))
	t.dense = append(t.dense, pc)
	inst := &prog.Inst[pc]
	switch inst.Op {
	case syntax.InstMatch:
		t.matched = true
	case syntax.InstAlt, syntax.InstAltMatch:
		t.add(prog, inst.Out, s, pos, ascii)
		t.add(prog, inst.Arg, s, pos, ascii)
	case syntax.InstCapture, syntax.InstNop:
		t.add(prog, inst.Out, s, pos, ascii)
	case syntax.InstEmptyWidth:
		if emptyOK(syntax.EmptyOp(inst.Arg), s, pos, ascii) {
			t.add(prog, inst.Out, s, pos, ascii)
		}
	case syntax.InstRune1, syntax.InstRune:
		if len(inst.Rune) == 1 && inst.Rune[0] == pyDollar {
			// Python's $: the end, or just before a final newline.
			if pos == len(s) || (pos == len(s)-1 && s[pos] == '\n') {
				t.add(prog, inst.Out, s, pos, ascii)
			}
		}
	}
}

// emptyOK checks zero-width assertions at pos, with Unicode word
// characters for \b and \B as Python has them.
func emptyOK(op syntax.EmptyOp, s string, pos int, ascii bool) bool {
	if op&syntax.EmptyBeginText != 0 && pos != 0 {
		return false
	}
	if op&syntax.EmptyEndText != 0 && pos != len(s) {
		return false
	}
	if op&syntax.EmptyBeginLine != 0 && pos != 0 && s[pos-1] != '\n' {
		return false
	}
	if op&syntax.EmptyEndLine != 0 && pos != len(s) && s[pos] != '\n' {
		return false
	}
	if op&(syntax.EmptyWordBoundary|syntax.EmptyNoWordBoundary) != 0 {
		before, after := false, false
		if pos > 0 {
			r, _ := utf8.DecodeLastRuneInString(s[:pos])
			before = isWord(r, ascii)
		}
		if pos < len(s) {
			r, _ := utf8.DecodeRuneInString(s[pos:])
			after = isWord(r, ascii)
		}
		boundary := before != after
		if op&syntax.EmptyWordBoundary != 0 && !boundary {
			return false
		}
		if op&syntax.EmptyNoWordBoundary != 0 && boundary {
			return false
		}
	}
	return true
}

func isWord(r rune, ascii bool) bool {
	if ascii {
		return isASCIIWord(r)
	}
	return isPyWord(r)
}
