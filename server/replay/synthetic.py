"""A synthetic weekday of the demo office from the FY2023 volumes (FLOOR.md section 2).

Daily visits per procedure are the yearly counts over 243 weekdays (certificates
grouped 1.4 to a visit): 住民票 51,276 + 印鑑登録証明書 24,331 + 戸籍 53,268 +
戸籍附票 13,349 → 証明発行; 出生 1,355 + 死亡 3,015 + 婚姻 1,392 + 離婚 380 →
戸籍届出; 転入 3,629 + 転居 3,589 + 転出 3,897 → 住民異動 (a third of them also
register a seal or apply for a My Number Card at the same visit); 印鑑登録 4,424.
Arrivals follow an intraday profile with a morning peak (9-11), a lunch-time
dip and an early-afternoon peak (13-14:30); the counters' staffing dips at
lunch (half the clerks pause in turns). Service times are log-normal around
each procedure's typical length; 3 % of visitors are no-shows when called.
"""

from __future__ import annotations

import math
import random

from .plan import DayPlan, Shift, Visit

WEEKDAYS_PER_YEAR = 243
YEARLY = {
    "shomei": (51_276 + 24_331 + 53_268 + 13_349) / 1.4,
    "koseki": 1_355 + 3_015 + 1_392 + 380,
    "idou": 3_629 + 3_589 + 3_897,
    "inkan": 4_424,
}
SERVICE_S = {"shomei": 240.0, "koseki": 900.0, "idou": 1200.0, "inkan": 480.0, "mynumber": 600.0}
#: Relative arrival intensity per half hour from 08:30 to 17:00.
PROFILE = [0.9, 1.4, 1.7, 1.8, 1.7, 1.5, 1.2, 0.9, 0.8, 1.1, 1.4, 1.5, 1.3, 1.0, 0.9, 0.8, 0.6]
OPEN_S, CLOSE_S = 8.5 * 3600, 17.25 * 3600
LUNCH = ((12 * 3600, 12.5 * 3600), (12.5 * 3600, 13 * 3600))


def _service(rng: random.Random, mean: float) -> float:
    sigma = 0.5
    return max(30.0, rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma))


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth's method is fine for the small means here; normal approximation beyond.
    if lam > 50:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def generate(seed: int) -> DayPlan:
    """A reproducible weekday for ``seed``."""
    rng = random.Random(seed)
    visits: list[Visit] = []
    total = sum(PROFILE)
    for queue, yearly in YEARLY.items():
        daily = yearly / WEEKDAYS_PER_YEAR
        for slot, weight in enumerate(PROFILE):
            for _ in range(_poisson(rng, daily * weight / total)):
                arrival = OPEN_S + (slot + rng.random()) * 1800
                procedures: tuple[str, ...] = ()
                if queue == "idou" and rng.random() < 1 / 3:
                    procedures = (rng.choice(["inkan", "mynumber"]),)
                visits.append(Visit(arrival, queue, _service(rng, SERVICE_S[queue]), rng.random() < 0.03, procedures))
    visits.sort(key=lambda v: v.arrival_s)
    staffing = {"koseki": ["1", "2"], "shomei": ["4", "5", "6", "7", "8"], "juki": ["10", "11", "12", "13"],
                "service": ["24", "25"]}
    shifts = []
    for counters in staffing.values():
        for i, counter in enumerate(counters):
            breaks = (LUNCH[i % 2],) if len(counters) > 1 else ()
            shifts.append(Shift(counter, OPEN_S, CLOSE_S, breaks))
    return DayPlan(f"synthetic-weekday-seed-{seed}", visits, shifts, dict(SERVICE_S),
                   notes=["service corner 24-25 hands over certificates (60 s)"])
