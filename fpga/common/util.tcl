# Helpers shared by the Vivado scripts. Plain Tcl only, no Vivado command: tclsh runs this
# file as it is, so the regression tests what it computes (tb/fpga/test_fpga_tcl.py).

namespace eval eftrain {
  # fpga/ and the repository root, wherever Vivado was started from.
  variable fpga_dir [file normalize [file join [file dirname [info script]] ..]]
  variable repo_dir [file normalize [file join $fpga_dir ..]]

  # The packaged core: its VLNV (vendor:library:name:version), defined here only.
  variable ip_vendor  eftrain
  variable ip_library ip
  variable ip_name    eftrain
  variable ip_version 1.0
  # The HDL top Vivado packages (a Verilog-2001 wrapper: the packager takes no
  # SystemVerilog top) and the file list of the SystemVerilog core behind it.
  variable ip_top      eftrain_top_wrapper
  variable ip_wrapper  [file join $fpga_dir eftrain_top_wrapper.v]
  variable ip_filelist [file join $repo_dir rtl eftrain_top.f]
}

# The VLNV of the packaged core.
proc eftrain::ip_vlnv {} {
  variable ip_vendor
  variable ip_library
  variable ip_name
  variable ip_version
  return "$ip_vendor:$ip_library:$ip_name:$ip_version"
}

# The sources of a file list (rtl/<top>.f), as absolute paths in compile order, each
# once: paths are relative to the repository root, `-f <list>` includes another list,
# `//` starts a comment. The same rules as eftrain.rtl_sources (the simulation side).
proc eftrain::read_filelist {listing {seen {}}} {
  variable repo_dir
  if {![file exists $listing]} {
    error "file list $listing does not exist"
  }
  set f [open $listing r]
  set lines [split [read $f] "\n"]
  close $f
  set paths $seen
  foreach line $lines {
    set comment [string first "//" $line]
    if {$comment >= 0} { set line [string range $line 0 [expr {$comment - 1}]] }
    set line [string trim $line]
    if {$line eq ""} { continue }
    if {[string match "-f *" $line]} {
      set paths [read_filelist [file join $repo_dir [string trim [string range $line 3 end]]] $paths]
      continue
    }
    set path [file normalize [file join $repo_dir $line]]
    if {$path ni $paths} { lappend paths $path }
  }
  return $paths
}

# Command-line options `--name value` (Vivado's -tclargs) over `defaults`, a dict of
# option names (without --) and values. Unknown options and missing values are errors
# that list the valid options.
proc eftrain::parse_options {argv defaults} {
  set options $defaults
  set valid [join [lmap name [dict keys $defaults] { string cat "--" $name }] ", "]
  if {[llength $argv] % 2} {
    error "options come in pairs `--name value`, got: $argv (valid: $valid)"
  }
  foreach {option value} $argv {
    set name [string range $option 2 end]
    if {![string match "--*" $option] || ![dict exists $defaults $name]} {
      error "unknown option `$option` (valid: $valid)"
    }
    dict set options $name $value
  }
  return $options
}

# The settings of a board: fpga/<board>/board.tcl returns a dict (name, part,
# board_part pattern, display name). Unknown boards are an error listing the known ones.
proc eftrain::board_settings {board} {
  variable fpga_dir
  set file [file join $fpga_dir $board board.tcl]
  if {![file exists $file]} {
    set known [lmap f [lsort [glob -nocomplain -directory $fpga_dir */board.tcl]] {
      file tail [file dirname $f]
    }]
    error "unknown board `$board` (known: [join $known {, }])"
  }
  return [source $file]
}

# Where a board's Vivado project lives (build/vivado/<board>/).
proc eftrain::project_dir {board} {
  variable repo_dir
  return [file join $repo_dir build vivado $board]
}

# The PL clock in MHz from the --pl-clk-mhz option: a number in 10..400 (what the
# MPSoC's PL clock generators reach; timing closure decides what the core meets).
proc eftrain::pl_clock_mhz {value} {
  if {![string is double -strict $value] || $value < 10 || $value > 400} {
    error "--pl-clk-mhz must be a frequency in MHz in 10..400, got `$value`"
  }
  return $value
}
