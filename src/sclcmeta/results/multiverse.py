"""The result of a multiverse run: one tidy table, one row per analysis x setting x reported quantity."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True, repr=False)
class MultiverseResult:
    """Every setting of every analysis's grid, fitted; built by :func:`sclcmeta.multiverse`.

    ``table`` has the settings (``analysis``, ``setting`` number, one column per axis, ``primary``,
    ``description``), the task's ``status`` (``ok`` / ``error``) and ``error`` text, then the summary
    columns of :meth:`FitResult.summary` for every reported quantity (per-study rows left out);
    ``headline`` marks each analysis's primary quantity (the pooled HR, or the interaction / prognostic /
    regression HR of a moderator analysis). A setting whose task raised has one row, ``headline`` true,
    its status and error, and no numbers.
    """

    table: pd.DataFrame
    axes: tuple[str, ...]
    scheduler: str = ""
    seconds: float = 0.0
    notes: tuple[str, ...] = ()

    @property
    def analyses(self) -> list[str]:
        return list(dict.fromkeys(self.table["analysis"]))

    def headline(self, analysis: str | None = None) -> pd.DataFrame:
        """One row per setting: the headline quantity (or the error row of a setting that failed)."""
        t = self.table[self.table["headline"]]
        return (t if analysis is None else t[t["analysis"] == analysis]).reset_index(drop=True)

    @property
    def failed(self) -> pd.DataFrame:
        """The settings whose task raised (not estimable, or an error), with their status and error text."""
        h = self.headline()
        return h[h["status"] != "ok"][["analysis", "setting", *self.axes, "status", "error"]].reset_index(drop=True)

    def overview(self) -> pd.DataFrame:
        """Per analysis: how far the headline HR moves across the settings that ran."""
        rows = []
        for name in self.analyses:
            h = self.headline(name)
            ok = h[h["status"] == "ok"]
            prim = ok[ok["primary"]]
            excl = ((ok["hr_q97.5"] < 1) | (ok["hr_q2.5"] > 1)).sum()
            rows.append({"analysis": name, "quantity": ok["quantity"].iloc[0] if len(ok) else "",
                         "settings": len(h), "not_estimable": int((h["status"] == "not estimable").sum()),
                         "failed": int((h["status"] == "error").sum()),
                         "primary_hr": prim["hr_median"].iloc[0] if len(prim) else float("nan"),
                         "hr_median_min": ok["hr_median"].min(), "hr_median_max": ok["hr_median"].max(),
                         "interval_excludes_1": f"{excl}/{len(ok)}",
                         "prob_hr_below_1_min": ok["prob_hr_below_1"].min(),
                         "prob_hr_below_1_max": ok["prob_hr_below_1"].max(),
                         "gate_failed": int(ok["gate"].str.startswith("FAILED").sum())})
        return pd.DataFrame(rows)

    def write(self, folder: str | Path, stem: str = "multiverse") -> list[Path]:
        """Write the table as ``<stem>.parquet`` and ``<stem>.csv`` into ``folder``; the paths written."""
        folder = Path(folder)
        pq, csv = folder / f"{stem}.parquet", folder / f"{stem}.csv"
        self.table.to_parquet(pq, index=False)
        self.table.to_csv(csv, index=False)
        return [pq, csv]

    def __repr__(self) -> str:
        n, bad = len(self.headline()), self.failed
        lines = [f"<Multiverse: {len(self.analyses)} analys{'es' if len(self.analyses) != 1 else 'is'}, {n} settings "
                 f"({(bad['status'] == 'not estimable').sum()} not estimable, {(bad['status'] == 'error').sum()} "
                 f"failed), axes {' x '.join(self.axes)}; {self.seconds:.1f} s on {self.scheduler}>"]
        ov = self.overview()
        if len(ov):
            lines.append(ov.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        if len(bad):
            lines.append(f"\nSettings that did not run ({len(bad)}; all in .failed and the table's error column):")
            for r in bad.head(_SHOWN).itertuples():
                where = "; ".join(f"{a}={getattr(r, a)}" for a in self.axes)
                err = r.error if len(r.error) <= 160 else r.error[:157] + "..."
                lines.append(f"  {r.analysis} #{r.setting} ({where}): {r.status}: {err}")
            if len(bad) > _SHOWN:
                lines.append(f"  ... and {len(bad) - _SHOWN} more")
        lines += [f"note: {x}" for x in self.notes]
        return "\n".join(lines)


#: Settings that did not run shown in the repr (the table has them all).
_SHOWN = 6
