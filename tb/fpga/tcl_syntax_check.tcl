#!/usr/bin/env tclsh
# Static syntax check of Tcl scripts: parses every command of every file with Tcl's own
# rules (words, braces, quotes, command substitution, comments, backslash-newlines) and
# descends into the bodies of proc, if, while, for, foreach, switch, catch, try,
# namespace eval and friends, without executing anything. Vivado's commands are never
# run, defined or faked: a Vivado script is checked exactly as Vivado's Tcl 8.6 parser
# would read it, so a missing brace, a stray character after a close-brace or quote, an
# unclosed [ ], or an `else` alone on its line is reported with its file and line here
# instead of minutes into a Vivado run.
#
# Usage: tclsh tcl_syntax_check.tcl FILE...   (exit 1 and one line per error if any)

namespace eval tclcheck {
  variable text ""
  variable file ""
  variable errors {}
  variable separators [list " " "\t" "\n" "\r" ";"]
}

# Record an error at character index `pos` of the current file.
proc tclcheck::error_at {pos msg} {
  variable text
  variable file
  variable errors
  set line [expr {[regexp -all "\n" [string range $text 0 [expr {$pos - 1}]]] + 1}]
  lappend errors "$file:$line: $msg"
}

# Index of the close-brace matching the open-brace at `pos`, or -1. Backslashes escape
# the next character; comments do not hide braces (as in Tcl itself).
proc tclcheck::match_brace {pos end} {
  variable text
  set depth 0
  for {set i $pos} {$i < $end} {incr i} {
    switch -- [string index $text $i] {
      "\\" { incr i }
      "\{" { incr depth }
      "\}" {
        incr depth -1
        if {$depth == 0} { return $i }
      }
    }
  }
  return -1
}

# A word must be followed by a separator (or, inside [ ], by the close-bracket).
proc tclcheck::check_word_end {pos end in_bracket what} {
  variable text
  variable separators
  if {$pos >= $end} { return }
  set c [string index $text $pos]
  if {$c in $separators || ($in_bracket && $c eq "\]")} { return }
  if {$c eq "\\" && [string index $text [expr {$pos + 1}]] eq "\n"} { return }
  error_at $pos "extra characters after $what"
}

# Parse a command substitution whose open-bracket is at `pos`: returns the index after
# its close-bracket (or `end` after reporting a missing one).
proc tclcheck::bracket {pos end} {
  variable text
  set close [script [expr {$pos + 1}] $end 1]
  if {$close >= $end || [string index $text $close] ne "\]"} {
    error_at $pos "missing close-bracket"
    return $end
  }
  return [expr {$close + 1}]
}

# One word starting at `pos`: returns {kind first last} (the content between the braces
# or quotes for `brace`/`quote` words) and the index after the word.
proc tclcheck::word {pos end in_bracket} {
  variable text
  variable separators
  set i $pos
  # The {*} expansion prefix applies to the word that follows it directly.
  if {[string range $text $i [expr {$i + 2}]] eq "\{*\}" && $i + 3 < $end
      && [string index $text [expr {$i + 3}]] ni $separators} {
    incr i 3
  }
  set c [string index $text $i]
  if {$c eq "\{"} {
    set close [match_brace $i $end]
    if {$close < 0} {
      error_at $i "missing close-brace"
      return [list [list error $i $end] $end]
    }
    check_word_end [expr {$close + 1}] $end $in_bracket "close-brace"
    return [list [list brace [expr {$i + 1}] $close] [expr {$close + 1}]]
  }
  if {$c eq "\""} {
    set j [expr {$i + 1}]
    while {$j < $end} {
      set d [string index $text $j]
      if {$d eq "\\"} {
        incr j 2
      } elseif {$d eq "\["} {
        set j [bracket $j $end]
      } elseif {$d eq "\""} {
        break
      } else {
        incr j
      }
    }
    if {$j >= $end} {
      error_at $i "missing close-quote"
      return [list [list error $i $end] $end]
    }
    check_word_end [expr {$j + 1}] $end $in_bracket "close-quote"
    return [list [list quote [expr {$i + 1}] $j] [expr {$j + 1}]]
  }
  set j $i
  while {$j < $end} {
    set d [string index $text $j]
    if {$d in $separators || ($in_bracket && $d eq "\]")} {
      break
    } elseif {$d eq "\\"} {
      incr j 2
    } elseif {$d eq "\["} {
      set j [bracket $j $end]
    } elseif {$d eq "\$" && [string index $text [expr {$j + 1}]] eq "\{"} {
      set close [string first "\}" $text $j]
      if {$close < 0 || $close >= $end} {
        error_at $j "missing close-brace for variable name"
        return [list [list error $i $end] $end]
      }
      set j [expr {$close + 1}]
    } else {
      incr j
    }
  }
  return [list [list bare $i $j] $j]
}

# The words of a list (a switch body, a dict for key list): newlines separate words.
proc tclcheck::list_words {start end} {
  variable text
  set words {}
  set i $start
  while {$i < $end} {
    if {[string is space [string index $text $i]]} {
      incr i
      continue
    }
    lassign [word $i $end 0] w i
    lappend words $w
  }
  return $words
}

proc tclcheck::literal {w} {
  variable text
  lassign $w kind first last
  if {$kind in {bare brace quote}} { return [string range $text $first [expr {$last - 1}]] }
  return ""
}

# Check the body word `w` of a command: a braced body is parsed as a script.
proc tclcheck::body {w} {
  lassign $w kind first last
  if {$kind eq "brace"} { script $first $last 0 }
}

# Structure of the commands that take scripts, and recursion into those scripts.
proc tclcheck::check_command {words pos} {
  if {[llength $words] == 0} { return }
  set name [literal [lindex $words 0]]
  set n [llength $words]
  switch -- $name {
    proc {
      if {$n != 4} { error_at $pos "proc takes a name, an argument list and a body ($n words)"; return }
      body [lindex $words 3]
    }
    if {
      set i 1
      while 1 {
        if {$i >= $n} { error_at $pos "if: missing condition"; return }
        incr i
        if {[literal [lindex $words $i]] eq "then"} { incr i }
        if {$i >= $n} { error_at $pos "if: missing body"; return }
        body [lindex $words $i]
        incr i
        if {$i >= $n} { return }
        set key [literal [lindex $words $i]]
        if {$key eq "elseif"} { incr i; continue }
        if {$key eq "else"} { incr i }
        if {$i != $n - 1} { error_at $pos "if: extra words after the else body"; return }
        body [lindex $words $i]
        return
      }
    }
    while {
      if {$n != 3} { error_at $pos "while takes a condition and a body ($n words)"; return }
      body [lindex $words 2]
    }
    for {
      if {$n != 5} { error_at $pos "for takes start, test, next and body ($n words)"; return }
      foreach k {1 3 4} { body [lindex $words $k] }
    }
    foreach - lmap {
      if {$n < 4 || $n % 2} { error_at $pos "$name takes variable list / list pairs and a body ($n words)"; return }
      body [lindex $words end]
    }
    catch {
      if {$n < 2 || $n > 4} { error_at $pos "catch takes a script and up to two variables ($n words)"; return }
      body [lindex $words 1]
    }
    try {
      if {$n < 2} { error_at $pos "try: missing body"; return }
      body [lindex $words 1]
      set i 2
      while {$i < $n} {
        switch -- [literal [lindex $words $i]] {
          on - trap { set step 4 }
          finally { set step 2 }
          default { error_at $pos "try: expected on, trap or finally"; return }
        }
        if {$i + $step - 1 >= $n} { error_at $pos "try: incomplete handler"; return }
        body [lindex $words [expr {$i + $step - 1}]]
        incr i $step
      }
    }
    namespace {
      if {$n >= 4 && [literal [lindex $words 1]] eq "eval"} { body [lindex $words end] }
    }
    switch {
      # Options, the string, then a braced list of pattern/body pairs (or inline pairs).
      set i 1
      while {$i < $n && [string match -* [literal [lindex $words $i]]]} {
        set option [literal [lindex $words $i]]
        incr i
        if {$option eq "--"} { break }
        if {$option in {-matchvar -indexvar}} { incr i }
      }
      incr i
      set pairs [lrange $words $i end]
      if {[llength $pairs] == 1 && [lindex $pairs 0 0] eq "brace"} {
        lassign [lindex $pairs 0] kind first last
        set pairs [list_words $first $last]
      }
      if {[llength $pairs] == 0 || [llength $pairs] % 2} {
        error_at $pos "switch: patterns and bodies do not pair up"
        return
      }
      foreach {pattern action} $pairs {
        if {[literal $action] ne "-"} { body $action }
      }
    }
    dict {
      if {$n == 5 && [literal [lindex $words 1]] in {for map}} { body [lindex $words 4] }
      if {$n >= 4 && [literal [lindex $words 1]] eq "with"} { body [lindex $words end] }
    }
    eval - uplevel - time {
      if {$n >= 2} { body [lindex $words end] }
    }
    else - elseif {
      error_at $pos "'$name' starts a command: it must follow the close-brace of the if body on the same line"
    }
  }
}

# Skip a comment at `pos`: it ends at a newline not escaped by a backslash.
proc tclcheck::comment {pos end} {
  variable text
  for {set i $pos} {$i < $end} {incr i} {
    set c [string index $text $i]
    if {$c eq "\\"} {
      incr i
    } elseif {$c eq "\n"} {
      return $i
    }
  }
  return $end
}

# Parse the commands in [start, end). Inside a command substitution (`in_bracket`) stop
# at the close-bracket that ends it and return its index.
proc tclcheck::script {start end in_bracket} {
  variable text
  variable separators
  set i $start
  while {$i < $end} {
    set c [string index $text $i]
    if {$c in $separators} {
      incr i
      continue
    }
    if {$c eq "\\" && [string index $text [expr {$i + 1}]] eq "\n"} {
      incr i 2
      continue
    }
    if {$in_bracket && $c eq "\]"} { return $i }
    if {$c eq "#"} {
      set i [comment $i $end]
      continue
    }
    # One command: words up to a newline or semicolon.
    set cmd_start $i
    set words {}
    while {$i < $end} {
      set c [string index $text $i]
      if {$c in {" " "\t" "\r"}} {
        incr i
        continue
      }
      if {$c eq "\\" && [string index $text [expr {$i + 1}]] eq "\n"} {
        incr i 2
        continue
      }
      if {$c in {"\n" ";"} || ($in_bracket && $c eq "\]")} { break }
      lassign [word $i $end $in_bracket] w i
      lappend words $w
    }
    check_command $words $cmd_start
  }
  return $i
}

proc tclcheck::check_file {path} {
  variable text
  variable file
  set file $path
  set f [open $path r]
  set text [read $f]
  close $f
  script 0 [string length $text] 0
}

if {[llength $argv] == 0} {
  puts stderr "usage: tclsh tcl_syntax_check.tcl FILE..."
  exit 2
}
foreach path $argv { tclcheck::check_file $path }
foreach e $tclcheck::errors { puts $e }
if {[llength $tclcheck::errors]} { exit 1 }
puts "[llength $argv] Tcl file(s): syntax OK"
