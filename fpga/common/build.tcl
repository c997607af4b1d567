# Build a board's project in separate steps: synthesis, implementation (with a timing
# check), bitstream and XSA export (the hardware handoff for Vitis / PetaLinux).
#
# Run through a board's entry script, which sets `eftrain_board`:
#   vivado -mode batch -source fpga/zcu102/build.tcl -tclargs --steps synth,impl,bitstream
#   (or `make bitstream BOARD=zcu102`)
# Options: --steps (comma-separated, in order; default synth,impl,bitstream), --jobs
# (parallel runs, default 4), --project-dir (default build/vivado/<board>).
# Each step starts from the results of the one before, so `--steps impl` after a
# synthesis reruns only implementation. Reports go to <project-dir>/reports/.

set common_dir [file dirname [file normalize [info script]]]
source [file join $common_dir util.tcl]

set board [eftrain::board_settings $eftrain_board]
set name [dict get $board name]
set options [eftrain::parse_options $argv [dict create \
  steps       synth,impl,bitstream \
  jobs        4 \
  project-dir [eftrain::project_dir $name] \
]]
set project_dir [file normalize [dict get $options project-dir]]
set jobs [dict get $options jobs]
set steps [split [dict get $options steps] ,]
foreach step $steps {
  if {$step ni {synth impl bitstream}} {
    error "eftrain: unknown step `$step` (steps: synth, impl, bitstream)"
  }
}

set xpr [file join $project_dir eftrain_$name.xpr]
if {![file exists $xpr]} {
  error "eftrain: no project $xpr: create it with `make project BOARD=$name` first"
}
open_project $xpr
# The settings a fast clock needs (docs/integration.md): synthesis may retime registers
# across logic, and implementation runs the performance strategy with physical
# optimisation after routing. Only the timing report after routing says whether the
# clock is met.
set_property STEPS.SYNTH_DESIGN.ARGS.RETIMING true [get_runs synth_1]
set_property strategy Performance_ExplorePostRoutePhysOpt [get_runs impl_1]
set reports [file join $project_dir reports]
file mkdir $reports

# Launch a run (optionally up to a step), wait, and stop the script if it failed.
proc eftrain::run {run jobs args} {
  launch_runs $run -jobs $jobs {*}$args
  wait_on_run $run
  if {[get_property PROGRESS [get_runs $run]] ne "100%"} {
    error "eftrain: $run failed ([get_property STATUS [get_runs $run]]); see its log in [get_property DIRECTORY [get_runs $run]]"
  }
}

foreach step $steps {
  switch -- $step {
    synth {
      reset_run synth_1
      eftrain::run synth_1 $jobs
      open_run synth_1
      report_utilization -file [file join $reports utilization_synth.rpt]
      close_design
    }
    impl {
      reset_run impl_1
      eftrain::run impl_1 $jobs
      open_run impl_1
      report_utilization -file [file join $reports utilization_impl.rpt]
      report_timing_summary -max_paths 20 -file [file join $reports timing_impl.rpt]
      close_design
      # Timing met or not: a bitstream that fails timing is not worth loading.
      set wns [get_property STATS.WNS [get_runs impl_1]]
      set whs [get_property STATS.WHS [get_runs impl_1]]
      puts "eftrain: worst setup slack $wns ns, worst hold slack $whs ns"
      if {$wns < 0 || $whs < 0} {
        error "eftrain: timing not met (WNS $wns ns, WHS $whs ns): see $reports/timing_impl.rpt; a lower --pl-clk-mhz may close it"
      }
    }
    bitstream {
      eftrain::run impl_1 $jobs -to_step write_bitstream
      set xsa [file join $project_dir eftrain_$name.xsa]
      write_hw_platform -fixed -include_bit -force -file $xsa
      puts "eftrain: bitstream in [get_property DIRECTORY [get_runs impl_1]], hardware platform $xsa"
    }
  }
}
close_project
